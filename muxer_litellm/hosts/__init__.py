"""Adapters for specific host routers.

``muxer_litellm.hosts.modelmuxer`` fits the plugin into ModelMuxer as it is today (its
``LLMProviderAdapter`` registry, price table and routing-rule JSON); importing it imports
ModelMuxer. ``muxer_litellm.hosts.modelmuxer_files`` writes ModelMuxer's price table and
routing rules from the catalog and needs no ModelMuxer. Nothing here is imported by
``muxer_litellm`` itself.
"""
