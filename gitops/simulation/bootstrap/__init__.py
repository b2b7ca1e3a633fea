"""The bootstrap scripts, run offline under recording stand-ins (standins/) that drive the
sync simulation: what a script creates becomes the simulation's start state, and what it
asks of the cluster (`kubectl get application`) is answered by the simulation."""
