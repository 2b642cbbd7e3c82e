"""radarface.eval"""
