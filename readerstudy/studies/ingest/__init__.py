"""Image-set ingest: manifests, zip archives and images, checked before anything is stored.

``manifests`` parses the three manifest formats into normalised rows, ``folders`` finds the
file a row names, ``archives`` unpacks a zip only after checking every member, ``images``
decodes an allowlisted format within a pixel budget and re-encodes it from pixels,
``selection`` applies the task, the biopsy filter and the seeded sample, and ``report`` sums
it up; none of them touches the database. ``storage`` writes and removes the stored files,
and ``importer.study_import`` (re-exported by ``readerstudy.studies.services``) puts it all
together in one all-or-nothing service, in phases: ``prepare``, ``encode`` and ``save``, with
``duplicates`` reporting what an import refuses as a duplicate.
"""
