"""A fake Cention logio API for the demo and the tests.

A pure ``Scenario`` (who logs in and out, when), a pure ``handle`` (the HTTP contract) and
a pure fault ``plan``, inside a thin real HTTP server::

    scenario = Scenario(start=int(time.time()), agents=50, seed=1)
    faults = FaultSchedule(parse_faults("503@60+30,hang:20@120+40", origin=time.time()))
    with SimulatorServer(scenario, token="t0ken", workspace="demo", faults=faults) as server:
        ...  # point the exporter's api_url at server.url
"""

from exporter.simulator.effects import Plan, plan
from exporter.simulator.faults import KINDS, Fault, FaultSchedule, parse_faults, random_faults
from exporter.simulator.handler import SimRequest, SimResponse, handle, logio_path
from exporter.simulator.render import render_csv, render_json
from exporter.simulator.scenario import WEEK, Scenario
from exporter.simulator.server import SimulatorServer, serve

__all__ = [
    "KINDS",
    "WEEK",
    "Fault",
    "FaultSchedule",
    "Plan",
    "Scenario",
    "SimRequest",
    "SimResponse",
    "SimulatorServer",
    "handle",
    "logio_path",
    "parse_faults",
    "plan",
    "random_faults",
    "render_csv",
    "render_json",
    "serve",
]
