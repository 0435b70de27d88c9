"""The CRM's pages, one module per job: ``crm`` (the customers list, registration, the
Information tab), ``segments`` (the RFM grid and its thresholds in Settings)."""
