"""The CRM's pages, one module per job: ``crm`` (the customers list, registration at the counter
and in Settings, the Information tab), ``join`` (a program's public join page) and ``segments``
(the RFM grid and its thresholds in Settings)."""
