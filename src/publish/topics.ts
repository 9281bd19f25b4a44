// MQTT topic names, in one place so the README and the code cannot disagree.

export const topics = {
  verdict: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/verdict`,
  status: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/status`,
  trigger: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/trigger`,
  /** Model lifecycle news: model changes and shadow trials (started, agreement, ready, promoted, stopped, rolled-back). */
  event: (prefix: string, line: string, camera: string) => `${prefix}/${line}/${camera}/event`,
};

export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';
