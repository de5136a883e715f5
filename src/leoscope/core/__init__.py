"""Pure logic: no I/O, no clocks read. Everything here takes `now` and data as arguments."""
