"""Pure core: the records and the maths of perptui.

Nothing in this package does I/O or imports from the rest of perptui; every other
layer (venues, engine, store, ui, jobs, commands) may import it. That keeps the
numbers a user sees testable in isolation and the data path readable from the
folder names: venues -> engine -> store / ui, with jobs and commands on top.
"""
