"""Studies: experiments that ask a question of the models and answer it in a report (run as
``python -m studies.<name>``). They build on ``train`` (recipes) and ``benchmarks`` (provenance); nothing
else imports them.

* ``studies.catsdogs``: does super-resolution help a cat/dog classifier? (data, classifiers, the SRGAN
  fine-tune, statistics, report; docs/catsdogs.md)
* ``studies.realism``: can a small CNN tell real photos from a generator's upscales?
"""
