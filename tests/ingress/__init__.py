"""Tests of the ingress package (ingress/): the app in process, fake producer or real broker."""
