// libyaml (Debian's libyaml-dev): the YAML parser behind Ferry's configuration.
#ifndef FERRY_CYAML_SHIM_H
#define FERRY_CYAML_SHIM_H
#include <yaml.h>
#endif
