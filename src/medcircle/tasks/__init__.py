"""Timers kept in the database and run by whichever app process claims them first."""
