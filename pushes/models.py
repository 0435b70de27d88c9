"""Push subscriptions of customers' cards, messages to them and their delivery records."""
