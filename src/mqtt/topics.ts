/** The topic tree. Each topic has one payload type in payloads.ts. */
export interface TopicRoot {
  prefix: string;
  site: string;
  gateway: string;
}

export function topics(root: TopicRoot) {
  const base = `${root.prefix}/${root.site}/${root.gateway}`;
  const device = (deviceId: string) => `${base}/devices/${deviceId}`;
  return {
    state: `${base}/state`,
    health: `${base}/health`,
    audit: `${base}/audit`,
    deviceState: (deviceId: string) => `${device(deviceId)}/state`,
    deviceInfo: (deviceId: string) => `${device(deviceId)}/info`,
    observations: (deviceId: string) => `${device(deviceId)}/obs`,
    alarm: (deviceId: string) => `${device(deviceId)}/alarm`,
    wave: (deviceId: string) => `${device(deviceId)}/wave`,
  };
}

export type Topics = ReturnType<typeof topics>;
