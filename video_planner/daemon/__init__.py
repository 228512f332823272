"""The on-robot execution daemon: a control loop at the robot's rate that executes plans made in another thread."""
