"""Platform reviewers' screens (平台审核, SPEC §4): the intervention queue and the national-warranty
review, above the domain apps whose services they call (as django-oscar's `dashboard/`)."""
