"""The kit's domain knowledge, once: what the roles' filters and modules, the checks and the drills
all need to agree on (sizes, allowed values, secret settings, RDB formats, exit codes, the group's
topology and whether it is healthy).

Standard library only, and only relative imports between its modules: the same files are imported
as ``ansible_collections.redisops.kit.plugins.module_utils.core`` by the collection's plugins (and
shipped to managed hosts inside the modules that use them) and as ``redisops.core`` by the Python
package, which installs this directory under that name.
"""
