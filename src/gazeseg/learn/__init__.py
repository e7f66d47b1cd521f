"""Learning from annotations: accepted masks make the engines better as people work.

``data`` turns a project's accepted masks into training samples, ``sam_finetune`` fine-tunes the
SAM prompt encoder + mask decoder on cached embeddings, ``refine`` learns a per-pixel corrector for
the weight-free engine, ``versions`` keeps numbered checkpoints the app can switch between.
Nothing here imports torch at import time.
"""
