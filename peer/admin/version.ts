// The version this server reports in srvr, mntr and envi. Tools parse `<major>.<minor>.<patch>-`
// (zktop) and compare against the ZooKeeper release whose protocol the peer speaks.

export const SERVER_VERSION = '3.8.0-zkensemble';
export const BUILD_DATE = '2026-11-21 00:00 UTC';
export const VERSION_LINE = `${SERVER_VERSION}, built on ${BUILD_DATE}`;
