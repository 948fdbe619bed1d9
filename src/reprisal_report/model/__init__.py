"""Case schema, controlled vocabularies, validation and canonical encoding.

Everything here is pure: no I/O beyond reading the package's own vocabulary
files, no printing, no prompting. Other packages import from the submodules
(``model.case``, ``model.vocabulary``, ``model.canonical``) directly.
"""
