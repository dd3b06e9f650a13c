"""`aplypro drill`: the pipeline under load and chaos (run.py), with its load generator (load.py), process
control (procs.py), chaos driver (chaos.py) and checks (checks.py)."""
