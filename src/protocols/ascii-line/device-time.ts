/** Range checks of a device time stamp whose text already matched its layout's pattern. */
import type { DeviceTimeFormat } from "./schema.js";

const monthNames = [
  "JAN",
  "FEB",
  "MAR",
  "APR",
  "MAY",
  "JUN",
  "JUL",
  "AUG",
  "SEP",
  "OCT",
  "NOV",
  "DEC",
];

interface DateTimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * Returns why a time stamp of `format` names no real date and time, such as month 13 or
 * minute 61, or undefined when it does. Two-digit years are taken as 2000 to 2099, which
 * only matters for 29 February.
 */
export function deviceTimeProblem(format: DeviceTimeFormat, text: string): string | undefined {
  const parts = partsOf(format, text);
  if (parts === undefined) return "the month is not a month name";
  const { year, month, day, hour, minute, second } = parts;
  if (month < 1 || month > 12) return `month ${month} is not 1 to 12`;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days) return `day ${day} is not 1 to ${days}`;
  if (hour > 23) return `hour ${hour} is not 0 to 23`;
  if (minute > 59) return `minute ${minute} is not 0 to 59`;
  if (second > 59) return `second ${second} is not 0 to 59`;
  return undefined;
}

function partsOf(format: DeviceTimeFormat, text: string): DateTimeParts | undefined {
  const [date = "", time = ""] = text.split(" ");
  const [hour = 0, minute = 0, second = 0] = time.split(":").map(Number);
  const clock = { hour, minute, second };
  switch (format) {
    case "MM/DD/YY HH:MM:SS": {
      const [month = 0, day = 0, year = 0] = date.split("/").map(Number);
      return { year: 2000 + year, month, day, ...clock };
    }
    case "DD/MM/YY HH:MM:SS": {
      const [day = 0, month = 0, year = 0] = date.split("/").map(Number);
      return { year: 2000 + year, month, day, ...clock };
    }
    case "YYYY-MM-DD HH:MM:SS": {
      const [year = 0, month = 0, day = 0] = date.split("-").map(Number);
      return { year, month, day, ...clock };
    }
    case "DD-MMM-YY HH:MM:SS": {
      const [day = "", name = "", year = ""] = date.split("-");
      const month = monthNames.indexOf(name.toUpperCase()) + 1;
      if (month === 0) return undefined;
      return { year: 2000 + Number(year), month, day: Number(day), ...clock };
    }
  }
}
