"""Plans: a checked request becomes the complete, runtime-free answer to what would run."""
