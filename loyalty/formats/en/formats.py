# Date formats the dashboard and card pages use, by name (``|date:"SHORT_DATE_FORMAT"``), so that
# each language orders day, month and year its own way. Everything not set here comes from
# Django's own locale formats.
DATE_FORMAT = "F j, Y"
SHORT_DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "F j, Y, H:i"
SHORT_DATETIME_FORMAT = "M j, Y, H:i"
MONTH_DAY_FORMAT = "M j"
