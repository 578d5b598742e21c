"""Neural-network building blocks of PAMNet."""
