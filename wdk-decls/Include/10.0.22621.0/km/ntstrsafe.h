/* ferrofilter uses nothing from ntstrsafe.h; wdk-build includes the header by name. */
#pragma once
