"""Platforms: what the driver model runs on (simulation over cocotbext-pcie, or a real PCI function)."""
