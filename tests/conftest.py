"""Test support lives in one module per kind, importable from every test (this directory is
put on sys.path below):

- fakes.py: scripted models and rewards (ScriptedModel, QueueReward, SeededModel, KeywordReward,
  TwoPlusTwoTarget), so the loops are tested without weights;
- processes.py: free loopback ports, waiting on a condition with a hang guard (never a timing
  assertion), `rewardspec serve` as a subprocess, an ASGI app under uvicorn in a thread;
- vllm_tiny.py: the tiny vLLM checkpoints, configs/vllm-cpu-tiny's variables and servers, and the
  servers fixture;
- prm_fixtures.py: tiny random checkpoints of the reward-model families.
- llama_servers.py: llama.cpp's own llama-server on loopback; remote_rsd.py: RSD over a server
  against RSD in-process, which the live server tests share.
- chromium.py: headless Chromium over the DevTools protocol (pipes, no websocket), for pages in a
  real browser; report_runs.py: run directories for `rewardspec report`, written without models;
  html_tree.py: a page parsed into a small DOM with html.parser.

Tests that load the embedded GGUF models are marked ``models``; the live vLLM ones ``vllm``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
