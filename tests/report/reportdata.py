"""Constants shared by the reproduction-report tests."""

PRESETS = ["phase_attention", "deep_fusion", "cemri_dlrcr", "ivim_vit", "ct_3dcnn"]
