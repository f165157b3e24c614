"""sotkit"""
