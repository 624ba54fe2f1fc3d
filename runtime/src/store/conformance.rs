// TEMPORARY placeholder by the lead so tests compile: replace this whole file.
