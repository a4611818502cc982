"""python -m pinn problem=finite_well ...: compose the Hydra config, then run it."""

from pinn.cli import main

if __name__ == "__main__":
    main()
