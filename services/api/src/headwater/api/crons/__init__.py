"""Crons: the controller, admission of a cron, its records, schedule arithmetic and the scheduler that fires due crons."""
