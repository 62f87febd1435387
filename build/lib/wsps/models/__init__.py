"""The learned halves of the method: the crop classifier (CAM stuff cues) and the panoptic segmenter."""
