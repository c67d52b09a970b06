"""``manage.py simulate --url http://127.0.0.1:8000 [--agents N] [--wait]``: a simulated fleet.

The agents and their keys come from the fleet file that ``manage.py demo`` writes; everything
else goes over HTTP through the SDK, exactly as real agents would.
"""

import logging
import signal
import threading
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from mission_control_sdk import Client, MissionControlError

from agents.demo import fleet_path
from intelligence import scenarios
from simulator.fleet import Profile, run_fleet


class Command(BaseCommand):
    help = "Run a simulated fleet of agents against a Mission Control server, over HTTP (the agent SDK)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--agents", type=int, default=0, help="how many of the demo agents (0: all)")
        parser.add_argument("--wait", action="store_true", help="wait for the server's health first")
        parser.add_argument("--wait-timeout", type=float, default=180, help="seconds --wait waits at most")
        parser.add_argument("--fleet", default="", help="fleet file (default: var/demo_fleet.json)")
        parser.add_argument("--speed", type=float, default=1.0, help="work faster (>1) or slower (<1)")
        parser.add_argument(
            "--duration", type=float, default=0, help="stop after this many seconds (0: never)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
        parser.add_argument(
            "--scenario",
            choices=scenarios.SCENARIOS,
            default=None,
            help="play one incident on the first agent (its provider for an outage), starting 10 min in",
        )

    def handle(
        self,
        *args,
        url,
        agents,
        wait,
        wait_timeout,
        fleet,
        speed,
        duration,
        seed,
        scenario,
        verbosity,
        **options,
    ):
        logging.getLogger("mission_control.simulate").setLevel(
            logging.INFO if verbosity >= 1 else logging.WARNING
        )
        # One line per HTTP request drowns what the fleet does; -v 3 shows them.
        logging.getLogger("httpx").setLevel(logging.INFO if verbosity >= 3 else logging.WARNING)
        stop = threading.Event()
        previous = self._stop_on_signals(stop)
        try:
            self._simulate(url, agents, wait, wait_timeout, fleet, speed, duration, seed, stop, scenario)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _simulate(self, url, agents, wait, wait_timeout, fleet, speed, duration, seed, stop, scenario=None):
        if wait and not self._wait_for(url, wait_timeout, stop):
            return
        path = Path(fleet) if fleet else fleet_path()
        if not path.exists():
            raise CommandError(f"No fleet file at {path}: run `manage.py demo` first.")
        profiles = Profile.load_all(path)
        if agents:
            profiles = profiles[:agents]
        if not profiles:
            raise CommandError(f"The fleet file {path} lists no agents.")
        timer = threading.Timer(duration, stop.set) if duration else None
        if timer:
            timer.daemon = True
            timer.start()
        names = ", ".join(p.name for p in profiles)
        self.stdout.write(self.style.SUCCESS(f"Simulating {len(profiles)} agents against {url}: {names}"))
        timeline = self._timeline(scenario, profiles, speed) if scenario else None
        try:
            stats = run_fleet(profiles, url, stop=stop, speed=speed, seed=seed, scenario=timeline)
        finally:
            stop.set()
            if timer:
                timer.cancel()
        self.stdout.write(f"Fleet stopped: {stats.line()}")

    def _timeline(self, scenario: str, profiles, speed: float) -> scenarios.Timeline:
        """One incident on the first agent (or its provider), its trouble starting 10 min in."""
        first = profiles[0]
        target = first.provider if scenario == "provider_outage" else first.name
        onset = 10 * 60 + scenarios.LEAD[scenario]
        timeline = scenarios.incident_at(scenarios.Timeline(length_s=10**9), scenario, target, onset)
        incident = timeline.incidents[-1]

        def minutes(t: float) -> str:
            return f"{t / 60 / speed:.0f} min"

        self.stdout.write(
            f"Scenario {scenario} on {target}: trouble from {minutes(incident.starts_s)}, failures cluster "
            f"from {minutes(incident.onset_s)} to {minutes(incident.ends_s)} (wall clock, --speed {speed:g})"
        )
        return timeline

    def _wait_for(self, url: str, timeout: float, stop: threading.Event) -> bool:
        """True once the server is healthy; False when stopped while waiting."""
        deadline = time.monotonic() + timeout
        with Client(url, "", max_retries=0, timeout=3) as client:
            while True:
                try:
                    client.health()
                    return True
                except MissionControlError as exc:
                    if time.monotonic() > deadline:
                        raise CommandError(f"{url} is not healthy after {timeout:.0f} s: {exc}") from exc
                if stop.wait(1):
                    return False

    def _stop_on_signals(self, stop: threading.Event) -> dict:
        """Ctrl+C or SIGTERM ends the fleet cleanly (agents finish their current step).

        The handler only notes the signal and a thread sets ``stop``: ``Event.set()`` inside a
        handler deadlocks when a second signal (Ctrl+C, then dev.py's SIGTERM) interrupts the first.
        """
        if threading.current_thread() is not threading.main_thread():
            return {}
        received: list[int] = []

        def relay():
            while not stop.wait(0.1):
                if received:
                    stop.set()

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: received.append(signum))
        threading.Thread(target=relay, name="simulate-signals", daemon=True).start()
        return previous
