"""A Millennium simulator: an MLLP listener with Millennium-like state and answers.

Used by the local run and the tests; never deployed. See docs/simulator.md.

    handle = start_simulator()          # background threads, free ports
    handle.mllp_port, handle.http_port  # where to connect
    handle.faults.nak_rate = 0.1        # fault injection, in-process
    handle.state.encounters["OB-1"]     # read the state
    handle.stop()

Standalone: ``python -m simulator --mllp-port 2575 --http-port 8090``.
"""

from simulator.faults import Faults
from simulator.runner import SimulatorHandle, start_simulator

__all__ = ["Faults", "SimulatorHandle", "start_simulator"]
