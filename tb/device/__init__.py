"""Our device's own register maps (not virtio): the bring-up / debug BAR (debug_bar) and the device modes,
virtio counters and test-only fault knobs in its 0x200 window (dev_ctrl). Read on any platform: standard
library and the Platform interface only."""
