# IVIM-DWI fitting: parametric maps (ADC, D, D*, f) and tumour VOI statistics.
