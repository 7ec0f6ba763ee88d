"""One spec at a time: plan, execute (in process or in a child), fidelity, accuracy, FLOPs;
the matrix loop. Imports api, stats and measure."""
