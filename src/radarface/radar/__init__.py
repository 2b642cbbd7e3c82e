"""radarface.radar"""
