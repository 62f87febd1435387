"""Thing cues from boxes: GrabCut and a hierarchical segment proposal inside each box, kept where
they agree (the paper's "M&G" cue, with an MCG substitute built on scikit-image)."""
