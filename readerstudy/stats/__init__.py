"""Pure statistics: ROC/AUC with DeLong and bootstrap intervals, Obuchowski-Rockette MRMC,
operating points, power and sample size, the confound audit's property AUCs, AI-assisted
reading (unaided vs aided MRMC, switching, benefit by experience, its simulator), and the
ratings file formats they read.

Functions here take arrays and return dataclasses. They import neither Django nor any other part
of the web app (an import-linter contract checks it), so the torch-only ``classifier`` package
and scripts use them as well. The Django side of the analysis (selectors, views, exports,
figures, insight) is ``readerstudy.analysis``.
"""
