"""Support's view of every district: a status per district kept by the stages, and one page."""
