"""The cat-vs-dog study (issue 4, docs/catsdogs.md): ``data`` (splits and cached image sets), ``classifier``
(training classifier-a / classifier-b), ``srgan`` (the srgan-catsdogs fine-tune), ``stats`` and ``report``."""
