"""IVIM vision-transformer pipeline (seed-003 §4-5), built on the deep-learning track `hccer.dl`.

Per seed, on a hold-out split with inner folds of the training cohort:
  1. `maps`: the IVIM parameter maps (ADC, D, D*, f) cut to the b-value crop's tumour box, the
     input of the map ViT;
  2. `train`: each extractor experiment (b-value ViT, map ViT and their label-permutation
     twins, `config`) trains one ViT per inner fold with the job steps of `dl.job`: early
     stopping on the inner fold's validation side, the validation AUC of the kept weights
     recorded, the checkpoint format of `dl.checkpoint`;
  3. `features`: the fold model with the best validation AUC gives the CLS features of every
     patient;
  4. `models`: bDL / mDL / fDL logistic models and the LASSO combined model, fitted on the
     training cohort (the selection steps of `radiomics.select`), score train (apparent) and
     test: the ledger part;
  5. `explain`: Grad-CAM (`dl.gradcam.vit_gradcam`) of the chosen b-value ViT on b = 1000.
`cli` is `hccer vit crop-maps|train|features|fit|explain`. The permutation control's shuffled
labels (`config.training_labels`) are one permutation per seed, shared by steps 2 and 4.
"""
