"""Where samples come from: ADCs, recordings, the simulator. Knows volts and rates, not sleep."""
