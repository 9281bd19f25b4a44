// MQTT topic names, in one place so the README and the code cannot disagree.

export const topics = {
  verdict: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/verdict`,
  status: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/status`,
  trigger: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/trigger`,
};

export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';
