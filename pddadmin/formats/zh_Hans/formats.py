# One way to write a moment in every language of the back-office (see pddadmin/timefmt.py): staff
# compare times across pages, exports and messages, and the platform's rules count in Shanghai days.
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
