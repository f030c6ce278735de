"""Competency questions (SPARQL) shipped with cokg."""
