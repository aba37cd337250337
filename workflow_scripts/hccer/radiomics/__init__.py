"""Radiomics: pyradiomics extraction per patient x phase x reader, ICC and the selection funnel."""
