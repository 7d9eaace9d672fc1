"""Running user code the way SageMaker does, on this host: containers made of namespaces and
cgroups, the instance-type catalog and host admission, the /opt/ml trees containers see, images,
and the data agent that runs inside instances.

Layering: nothing here imports the wire layer, services, the database, the application or
cove.jobs; cove.fabric.netns is the one Cove module it uses. This package's __init__ imports
nothing so that `python -m cove.runtime.init` (PID 1 of every container) starts fast.
"""
