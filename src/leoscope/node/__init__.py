"""The node agent: runs scheduled experiments on a measurement node.

Start with agent.py (how the parts fit together) and seams.py (where later features plug in).
"""
