"""The sleep science: samples and settings in; movements, series, bed periods and summaries out.

Pure computation on numbers: nothing here opens a file, speaks SQL, reads a clock
or knows HTTP. The daemon (appliance.daemon) and `kickwatch analyze` feed it the
same samples and get the same answers; the store keeps what it returns.

    settings    the detection and series rules, each with its bounds and why
    fastband    per-frame power at 4-10 Hz, the sleeper's own fast force
    detector    one channel's activity: frames, envelope, resting level, edges
    occupancy   in bed or out, from the quiet stretches between movements
    scoring     the WASM/IRLSSG rules: LM, large, series, PLMI, periodicity
    pipeline    the streaming detector both the daemon and analyze run
    analysis    a whole recording through the pipeline
    evaluation  detected against true movements, for the benchmarks
"""
